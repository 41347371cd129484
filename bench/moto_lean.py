"""moto's server for the benchmark: one request at a time, and streams that keep only the first records.

moto copies a whole table, its stream records included, before every transaction (to roll back on failure),
so a table that has seen thousands of writes makes each further write slower than the last (at a few hundred
runs an invocation takes a second, at a thousand one times out), and the copies are not all freed (moto grew
past 10 GB in one benchmark run). The benchmark reads a stream only in its first section, the AWS calls of
three runs (a few dozen records): the first records of the server are kept, later ones are not.

moto's backends are not safe under concurrent requests (a table copied while another request changes it
answers HTTP 500), so requests are handled one at a time (connections still each have a thread: a single
threaded server would wait on a client's idle kept-alive connection while the others time out). The burst's
concurrent classifiers still interleave request by request, which is where their races are.
"""

import argparse
import gc
import os
import threading

from moto.dynamodb.models.table import StreamShard
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import run_simple

KEPT = 200
# What of those copies is garbage is in cycles (a table and its stream point at each other).
GC_EVERY = 200
_add = StreamShard.add


def bounded_add(self, old, new):  # noqa: ANN001, ANN201 (moto's own signature)
    if len(self.items) < KEPT:
        _add(self, old, new)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, default=5000)
    args = parser.parse_args()
    StreamShard.add = bounded_add
    os.environ["MOTO_PORT"] = str(args.port)
    app = DomainDispatcherApplication(create_backend_app)
    lock = threading.Lock()
    served = [0]

    def one_at_a_time(environ, start_response):  # noqa: ANN001, ANN202 (a WSGI application)
        with lock:
            answer = list(app(environ, start_response))
            served[0] += 1
            if served[0] % GC_EVERY == 0:
                gc.collect()
            return answer

    run_simple(args.host, args.port, one_at_a_time, threaded=True, request_handler=MotoRequestHandler)


if __name__ == "__main__":
    main()
