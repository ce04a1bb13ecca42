"""The media context (issue 9): uploads, their checks and processing, attachments.

So far: what an upload is, decided from its bytes (`content.py`); the image pipeline that
checks an image's header, then decodes, strips and re-encodes it into the original and its
variants (`images.py`, engines in `images_pillow.py` and `images_vips.py`, placeholders
from `blurhash.py`). The commands, events,
handler table and the processing worker come next; the bytes themselves live in a
`core.blobstore.BlobStore`.
"""
