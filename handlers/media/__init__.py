"""The media context (issue 9): uploads, their checks and processing, attachments.

So far: what an upload is, decided from its bytes (`content.py`). The commands, events,
handler table and the processing worker come next; the bytes themselves live in a
`core.blobstore.BlobStore`.
"""
