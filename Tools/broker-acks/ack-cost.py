#!/usr/bin/env python3
"""What RabbitMQ spends per message consumed from a quorum queue when the consumer acks every message, against one
ack with `multiple` per 20 (BENCHMARKS.md, "Merging consumer acks").

Publishes N persistent 1,700-byte messages with confirms, drains them acking each one or every 20th, and reads the
broker's CPU time from /proc/<beam pid>/stat around each drain. Needs pika (pip install pika) and the local broker
(deploy/local/servers.sh start).

    python3 Tools/broker-acks/ack-cost.py $(pgrep -f beam.smp | head -1) 20000
"""
import os
import sys
import time

import pika

BEAM, N = int(sys.argv[1]), int(sys.argv[2])
URL = os.environ.get("STOCKWIRE_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/%2F")
QUEUE = "stockwire-ack-cost"


def broker_cpu_seconds():
    fields = open(f"/proc/{BEAM}/stat").read().split(")")[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def fill(channel):
    body = b"x" * 1700
    for _ in range(N):
        channel.basic_publish("", QUEUE, body, pika.BasicProperties(delivery_mode=2))


def drain(connection, every):
    channel = connection.channel()
    channel.basic_qos(prefetch_count=500)
    got, start, began = 0, broker_cpu_seconds(), time.time()
    for method, _, _ in channel.consume(QUEUE, inactivity_timeout=5):
        if method is None:
            break
        got += 1
        if every == 1:
            channel.basic_ack(method.delivery_tag)
        elif got % every == 0 or got == N:
            channel.basic_ack(method.delivery_tag, multiple=True)
        if got == N:
            break
    channel.cancel()
    channel.close()
    return broker_cpu_seconds() - start, time.time() - began


connection = pika.BlockingConnection(pika.URLParameters(URL))
publisher = connection.channel()
publisher.queue_delete(QUEUE)
publisher.queue_declare(QUEUE, durable=True, arguments={"x-queue-type": "quorum"})
publisher.confirm_delivery()
for every in [1, 20, 1, 20]:
    fill(publisher)
    used, wall = drain(connection, every)
    print(f"ack every {every:>2}: RabbitMQ {used * 1e6 / N:6.1f} µs CPU per message consumed, {N / wall:7.0f} msg/s")
publisher.queue_delete(QUEUE)
connection.close()
