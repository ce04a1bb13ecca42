"""The media context (issue 9): uploads, their checks and processing, attachments.

`TABLE` is the index of this context: every command a client can send and what decides it
(`decide.py`). What the processing worker and the sweeper conclude is decided in
`worker.py` and `sweeper.py`, which run beside the handler (`background`). An upload's kind
comes from its bytes (`content.py`); images are checked from their header, then decoded,
stripped and re-encoded into the original and its variants (`images.py`, engines in
`images_pillow.py` and `images_vips.py`, placeholders from `blurhash.py`). The bytes live
in a `core.blobstore.BlobStore`.
"""

from typing import Any

from core.bus import Decider, HandlerTable
from handlers.media import decide as d
from handlers.media.commands import (
    AttachMedia,
    DeleteMedia,
    DescribeMedia,
    ReceiveUpload,
    RefuseUpload,
    ReserveUpload,
)
from handlers.media.events import EVENTS

CONTEXT = "media"


def _id(command: Any) -> str:
    return str(command.media_id)


TABLE: HandlerTable = {
    ReserveUpload: Decider(d.UPLOAD, _id, d.decide_reserve, creates=True),
    ReceiveUpload: Decider(d.UPLOAD, _id, d.decide_receive),
    RefuseUpload: Decider(d.UPLOAD, _id, d.decide_refuse),
    DescribeMedia: Decider(d.UPLOAD, _id, d.decide_describe),
    AttachMedia: Decider(d.UPLOAD, _id, d.decide_attach),
    DeleteMedia: Decider(d.UPLOAD, _id, d.decide_delete),
}


def background(infra: Any) -> list[Any]:
    """The processing worker, the sweeper and the reactions to other contexts."""
    from handlers.media import moderation
    from handlers.media.worker import background_services

    return [*background_services(infra), *moderation.services(infra)]


__all__ = ["CONTEXT", "EVENTS", "TABLE", "background"]
