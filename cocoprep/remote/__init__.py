"""Getting data sets: catalog, planning, HTTP, parallel ranges, extraction, class subsets.

One download flows ``download`` → ``plan`` (what each archive needs, disk space) → ``fetch``
(``http`` for one stream, ``ranges`` for parallel pieces, ``hashes`` while the bytes land) →
``extract`` (safe members, atomic writes, completion markers); ``subset`` fetches single images
of a class subset instead of whole archives. ``catalog`` is the table of what can be fetched.
"""
