"""The posts context: publishing, editing and deleting posts, and their comments.

`TABLE` below is the index of this context: every command it answers and the function that
decides it.
"""

from core.bus import Decider, HandlerTable
from handlers.posts import comments
from handlers.posts.commands import (
    AddComment,
    DeleteComment,
    DeletePost,
    EditComment,
    EditPost,
    PublishPost,
)
from handlers.posts.decide import POST, decide_delete, decide_edit, decide_publish
from handlers.posts.events import EVENTS
from handlers.posts.moderation import background

CONTEXT = "posts"

TABLE: HandlerTable = {
    PublishPost: Decider(POST, lambda c: c.post_id, decide_publish, creates=True),
    EditPost: Decider(POST, lambda c: c.post_id, decide_edit),
    DeletePost: Decider(POST, lambda c: c.post_id, decide_delete),
    AddComment: Decider(
        comments.COMMENT, lambda c: c.comment_id, comments.decide_add, creates=True
    ),
    EditComment: Decider(comments.COMMENT, lambda c: c.comment_id, comments.decide_edit),
    DeleteComment: Decider(comments.COMMENT, lambda c: c.comment_id, comments.decide_delete),
}

__all__ = ["CONTEXT", "EVENTS", "TABLE", "background"]
