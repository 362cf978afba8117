"""``cocoprep convert``: COCO-format JSON → YOLO label files, list files and the dataset yaml.

Design (why it is fast and small). A COCO file is not parsed whole: :mod:`cocoprep.coco` parses its
images and categories and cuts its annotations array into ~2 MB byte ranges that end on element
boundaries (small enough for a chunk's arrays to stay in the CPU caches); the pages where it looks
for those boundaries are read ahead while the images are parsed. The worker processes are started
before the images are read (forked on Linux, so they are ready at once with this process's imports;
see :mod:`cocoprep.parallel`), and get the file's row context (image ids and sizes, class map) once
each, through a file. Each range is parsed lazily with simdjson and turned into label rows by a
worker (:func:`cocoprep.rows.annotation_rows`, pure): number arrays are copied out in C, the rows
(ordered by image within the chunk) are formatted in bulk with numpy, and the worker appends their
text to one temporary file (in /dev/shm when it has room), returning only where it put it, the
image of each row and counts. The parent orders all rows by image with a stable sort, so each image
keeps its annotations in JSON order. Workers then write the label files in blocks of images: each
maps the text file, joins its images' rows a few thousand images at a time (reading each chunk's
text in runs) and writes each label file once, atomically; new label folders are filled under a
temporary name and renamed into place only once every block succeeded. Creating a file holds its
folder's lock, so creates from several processes run one after another; the new label files are
therefore created empty by a thread of the parent while the workers compute rows, and the workers
then only fill them, side by side (:func:`cocoprep.fileio.create_ahead`). So the parent holds a few
columns per row, never the JSON tree nor the text, parsing and writing run on every core, and the
output is byte-identical for any worker count. Small files (under
``Tuning.parallel_min_bytes`` of annotations, or ``Tuning.write_parallel_min_images`` images for
the writes) run in-process, where starting workers would cost more than it saves. On a Dask
cluster the workers return the text and the parent appends it.

Nothing is written for a split until all its annotations have been checked, so bad input leaves
no partial output for that split.

Modules: :mod:`~cocoprep.converter.pipeline` (the command, split by split),
:mod:`~cocoprep.converter.textstore` (rows into the text store), :mod:`~cocoprep.converter.writer`
(label files in blocks), :mod:`~cocoprep.converter.summary` (what was done) and
:mod:`~cocoprep.converter.tuning` (how the work is cut).
"""

from cocoprep.converter.pipeline import convert
from cocoprep.converter.summary import SplitSummary, Summary
from cocoprep.converter.tuning import Tuning

__all__ = ["SplitSummary", "Summary", "Tuning", "convert"]
