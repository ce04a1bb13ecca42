"""Typed errors of the posts context; codes are stable (`quark:<code>` problem types)."""

from core.errors import ConflictError, ForbiddenError, NotFoundError, ValidationError


class PostNotFound(NotFoundError):
    code = "post-not-found"
    title = "No such post"


class PostAlreadyExists(ConflictError):
    code = "post-exists"
    title = "A post with this id already exists"


class NotPostAuthor(ForbiddenError):
    code = "not-post-author"
    title = "Only the author (or a moderator) may change this post"


class EmptyPost(ValidationError):
    code = "empty-post"
    title = "A post needs a title and a body that are not blank"


class CommentNotFound(NotFoundError):
    code = "comment-not-found"
    title = "No such comment"


class NotCommentAuthor(ForbiddenError):
    code = "not-comment-author"
    title = "Only its author may edit a comment; its author, the post's author or a moderator may delete it"
