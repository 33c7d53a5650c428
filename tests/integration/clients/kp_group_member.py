"""One kafka-python (PyPI) group member for test_groups.py, in its own process: polls, commits
after every batch, and prints 'R <partition> <offset>' per record and 'A <p,p,...>' when its
assignment changes (flushed at once). Closes (LeaveGroup) and exits when STOP_FILE appears.
Usage: kp_group_member.py BOOTSTRAP TOPIC GROUP STOP_FILE
(KP_DEBUG_LOG=<path prefix> writes the client's debug log to <prefix><pid>.)"""
import os
import sys
import time

from kafka import KafkaConsumer


def main():
    bootstrap, topic, group, stop_file = sys.argv[1:5]
    if os.environ.get("KP_DEBUG_LOG"):
        import logging
        logging.basicConfig(filename=os.environ["KP_DEBUG_LOG"] + str(os.getpid()),
                            level=logging.DEBUG)
    c = KafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=group,
                      auto_offset_reset="earliest", enable_auto_commit=False,
                      session_timeout_ms=6000, heartbeat_interval_ms=500,
                      max_poll_interval_ms=10000)
    assigned = None
    deadline = time.monotonic() + 120
    while not os.path.exists(stop_file) and time.monotonic() < deadline:
        batch = c.poll(timeout_ms=200)
        for tp, msgs in batch.items():
            for m in msgs:
                print(f"R {tp.partition} {m.offset}")
        if batch:
            c.commit()
        now = sorted(tp.partition for tp in c.assignment())
        if now != assigned:
            assigned = now
            print("A " + ",".join(map(str, now)))
        sys.stdout.flush()
    c.close()


if __name__ == "__main__":
    main()
