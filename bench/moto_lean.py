"""moto's server for the benchmark, with each table's stream bounded to its first records.

moto copies a whole table, its stream records included, before every transaction (to roll back on failure),
so a table that has seen thousands of writes makes each further write slower than the last: at a few hundred
runs an invocation takes a second and one at a thousand runs times out. The benchmark reads the stream only
of its small table of AWS calls, early on; a table's later records are not kept.
"""

import sys

from moto.dynamodb.models.table import StreamShard
from moto.server import main

KEPT = 200
_add = StreamShard.add


def bounded_add(self, old, new):  # noqa: ANN001, ANN201 (moto's own signature)
    if len(self.items) < KEPT:
        _add(self, old, new)


StreamShard.add = bounded_add

if __name__ == "__main__":
    sys.exit(main())
