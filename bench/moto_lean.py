"""moto's server for the benchmark: one request at a time, streams that keep only the first records, and an
SQS receive that does not count the queue once per message.

moto copies every table a transaction touches, its stream records included, before the transaction (to roll
back on failure), so a table that has seen thousands of writes makes each further write slower than the last
(at a few hundred runs an invocation takes a second, at a thousand one times out), and the copies are not all
freed (moto grew past 10 GB in one benchmark run). Here a transaction backs up only the items it touches. The
benchmark reads a stream only in its first section, the AWS calls of three runs (a few dozen records): the
first records of the server are kept, later ones are not.

moto's ReceiveMessage checks each message it returns against the queue's retention period by computing all of
the queue's attributes, message counts included (a pass over every message): with a thousand retries queued a
receive took half a second of the server's time. Here the check reads the retention period alone.

moto's backends are not safe under concurrent requests (a table copied while another request changes it
answers HTTP 500), so requests are handled one at a time (connections still each have a thread: a single
threaded server would wait on a client's idle kept-alive connection while the others time out). The burst's
concurrent classifiers still interleave request by request, which is where their races are.
"""

import argparse
import copy
import gc
import os
import threading
import time

from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.dynamo_type import DynamoType
from moto.dynamodb.models.table import StreamShard, Table
from moto.sqs.models import SQSBackend
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import run_simple

KEPT = 200
# What of those copies is garbage is in cycles (a table and its stream point at each other).
GC_EVERY = 200
_add = StreamShard.add
_transact = DynamoDBBackend.transact_write_items


def bounded_add(self, old, new):  # noqa: ANN001, ANN201 (moto's own signature)
    if len(self.items) < KEPT:
        _add(self, old, new)


def shared(self, memo):  # noqa: ANN001, ANN201 (the deepcopy protocol)
    return self


def transact_write_items(self, transact_items):  # noqa: ANN001, ANN201 (moto's own signature)
    """moto's transaction with a backup of the items it touches instead of a copy of every table it touches
    (those copies were slower and larger with every transaction, and not all freed)."""
    before = []
    for entry in transact_items:
        _, op = next(iter(entry.items()))
        table = self.tables.get(op.get("TableName"))
        key = op.get("Key") or op.get("Item") or {}
        if table is None or table.hash_key_attr not in key:
            continue
        hash_value = DynamoType(key[table.hash_key_attr])
        range_value = DynamoType(key[table.range_key_attr]) if table.range_key_attr in key else None
        if table.has_range_key and range_value is None:
            continue
        before.append((table, hash_value, range_value, copy.deepcopy(table.get_item(hash_value, range_value))))
    Table.__deepcopy__ = shared
    try:
        return _transact(self, transact_items)
    except Exception:
        for table, hash_value, range_value, item in reversed(before):
            if range_value is None:
                table.items.pop(hash_value, None) if item is None else table.items.__setitem__(hash_value, item)
            elif item is None:
                table.items[hash_value].pop(range_value, None)
            else:
                table.items[hash_value][range_value] = item
        raise
    finally:
        del Table.__deepcopy__


def retained(self, queue_name, message):  # noqa: ANN001, ANN201 (moto's own signature)
    """moto's retention check without computing every attribute of the queue for each message."""
    retention = int(self.get_queue(queue_name).message_retention_period)
    return retention + message.sent_timestamp / 1000 > time.time()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, default=5000)
    args = parser.parse_args()
    StreamShard.add = bounded_add
    DynamoDBBackend.transact_write_items = transact_write_items
    SQSBackend.is_message_valid_based_on_retention_period = retained
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
