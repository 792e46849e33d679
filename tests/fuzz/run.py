"""Coverage-guided fuzzing of the pure protocol cores with atheris (libFuzzer).

Run on demand, not in ``make test``::

    make fuzz                          # every target, 60 s each
    make fuzz FUZZ_ARGS="--seconds 600 --target http1"

Each target feeds arbitrary bytes to a parser, split at fuzzer-chosen points, and fails
(atheris stops with the input saved as ``crash-*``) if anything other than the parser's own
error class escapes, or if the events depend on how the input was split.
"""

from __future__ import annotations

import argparse
import subprocess
import sys

TARGETS = ("http1", "ws_frames")


def fuzz_http1(data: bytes) -> None:
    import atheris

    from hyperclient.errors import RemoteProtocolError
    from hyperclient.http1 import NEED_DATA, PAUSED, ResponseParser

    fdp = atheris.FuzzedDataProvider(data)
    method = fdp.PickValueInList(["GET", "HEAD", "CONNECT", "POST"])
    read_until_eof = fdp.ConsumeBool()
    split = fdp.ConsumeIntInRange(0, 64)
    payload = fdp.ConsumeBytes(fdp.remaining_bytes())

    def run(pieces: list[bytes]) -> tuple[list[object], str | None]:
        parser = ResponseParser(max_line_size=256, max_field_size=256, max_headers=16,
                                max_head_size=2048)  # fmt: skip
        parser.start(method, read_until_eof=read_until_eof)
        events: list[object] = []
        try:
            for piece in [*pieces, None]:
                if piece is None:
                    parser.receive_eof()
                else:
                    parser.receive_data(piece)
                while True:
                    event = parser.next_event()
                    if event is NEED_DATA or event is PAUSED:
                        break
                    events.append(event if not isinstance(event, bytes) else ("data", event))
                if events and events[-1] is PAUSED:
                    break
        except RemoteProtocolError as exc:
            return _merge(events), type(exc).__name__
        return _merge(events), None

    whole = run([payload])
    cut = run([payload[:split], payload[split:]])
    if whole != cut:
        raise AssertionError(f"split at {split} changes the outcome: {whole!r} != {cut!r}")


def _merge(events: list[object]) -> list[object]:
    merged: list[object] = []
    for event in events:
        if isinstance(event, tuple) and merged and isinstance(merged[-1], tuple):
            merged[-1] = ("data", merged[-1][1] + event[1])
        else:
            merged.append(event)
    return merged


def fuzz_ws_frames(data: bytes) -> None:
    import atheris

    from hyperclient.errors import RemoteProtocolError
    from hyperclient.ws_frames import FrameReader

    fdp = atheris.FuzzedDataProvider(data)
    compress = fdp.PickValueInList([0, 9, 15])
    split = fdp.ConsumeIntInRange(0, 64)
    payload = fdp.ConsumeBytes(fdp.remaining_bytes())

    def run(pieces: list[bytes]) -> tuple[list[object], str | None]:
        reader = FrameReader(max_msg_size=4096, compress=compress)
        messages: list[object] = []
        try:
            for piece in pieces:
                reader.receive_data(piece)
                while (msg := reader.next_message()) is not None:
                    messages.append(msg)
        except RemoteProtocolError as exc:
            return messages, f"{type(exc).__name__}:{getattr(exc, 'code', None)}"
        return messages, None

    whole = run([payload])
    cut = run([payload[:split], payload[split:]])
    if whole != cut:
        raise AssertionError(f"split at {split} changes the outcome: {whole!r} != {cut!r}")


def child(target: str, seconds: int) -> None:
    import atheris

    with atheris.instrument_imports():
        import hyperclient.http1
        import hyperclient.ws_frames  # noqa: F401
    func = {"http1": fuzz_http1, "ws_frames": fuzz_ws_frames}[target]
    atheris.Setup([sys.argv[0], f"-max_total_time={seconds}", "-print_final_stats=1"], func)
    atheris.Fuzz()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", choices=TARGETS, action="append")
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--child", choices=TARGETS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.seconds)
        return 0
    status = 0
    for target in args.target or TARGETS:
        print(f"== fuzzing {target} for {args.seconds} s", flush=True)
        result = subprocess.run(
            [sys.executable, __file__, "--child", target, "--seconds", str(args.seconds)],
            check=False,
        )
        print(f"== {target}: {'ok' if result.returncode == 0 else 'FAILED'}", flush=True)
        status |= result.returncode
    return status


if __name__ == "__main__":
    sys.exit(main())
