"""Pure edits of COCO data: subsets by class, split, merge and filter.

Each takes COCO data (dicts, or a file streamed where it is large) and returns COCO data, so
``convert`` runs on the result unchanged; files are read and written at the edges.
"""
