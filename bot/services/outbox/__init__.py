"""The outbox: the only writer of delivery rows. Enqueue, claim who is due, lease, record, reap."""
