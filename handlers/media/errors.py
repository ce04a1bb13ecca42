"""Typed errors of the media context; codes are stable (`quark:<code>` problem types)."""

from core.errors import ConflictError, ForbiddenError, NotFoundError, QuarkError, ValidationError


class MediaNotFound(NotFoundError):
    code = "media-not-found"
    title = "No such media"


class MediaExists(ConflictError):
    code = "media-exists"
    title = "This upload id already holds other content"


class NotMediaOwner(ForbiddenError):
    code = "not-media-owner"
    title = "Only the uploader may do this with their media"


class MediaNotReady(ConflictError):
    code = "media-not-ready"
    title = "The media is not processed (yet): only ready media can be attached"


class NotAnImage(ValidationError):
    code = "not-an-image"
    title = "Only an image can be used here"


class UploadNotReserved(ConflictError):
    code = "upload-not-reserved"
    title = "This upload was not reserved, has expired or is already complete"


class UnsupportedContent(QuarkError):
    code = "unsupported-content"
    status = 415
    title = "This kind of file is not accepted"


class TypeMismatch(QuarkError):
    code = "type-mismatch"
    status = 415
    title = "The file's content is not of the declared type"


class DamagedMedia(ValidationError):
    code = "damaged-media"
    title = "The file cannot be read as what it claims to be"


class ImageTooLarge(ValidationError):
    code = "image-too-large"
    title = "The image has more pixels than we decode"


class MediaTooLarge(QuarkError):
    code = "media-too-large"
    status = 413
    title = "The file is larger than your upload limit"


class StorageFull(QuarkError):
    code = "storage-quota-exceeded"
    status = 413
    title = "Your media storage is full: delete some media first"
