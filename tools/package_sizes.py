"""After `make build`'s one `cargo lambda build`: check that each function's `bootstrap`
(`target/lambda/<binary>/bootstrap`, the directory template.yml's CodeUri names) exists and is an arm64 Linux
executable, and report its size and the size of the zip Lambda would receive. Exits non-zero, naming the
function, if one is missing or built for another machine."""

import io
import os
import sys
import zipfile

# template.yml's function → the binary in its CodeUri (target/lambda/<binary>/).
FUNCTIONS = {"StarterFunction": "starter", "ClassifierFunction": "classifier", "SchedulerFunction": "scheduler"}
EM_AARCH64 = 0xB7


def main(build_dir: str) -> int:
    failed = False
    print(f"{'function':<20} {'bootstrap':>12} {'zipped':>12}")
    for name, binary in FUNCTIONS.items():
        path = os.path.join(build_dir, binary, "bootstrap")
        if not os.path.isfile(path):
            print(f"{name}: no bootstrap at {path}", file=sys.stderr)
            failed = True
            continue
        with open(path, "rb") as f:
            head = f.read(20)
        machine = int.from_bytes(head[18:20], "little") if len(head) == 20 else None
        if head[:4] != b"\x7fELF" or machine != EM_AARCH64:
            print(f"{name}: {path} is not an arm64 ELF executable (e_machine {machine})", file=sys.stderr)
            failed = True
            continue
        if not os.access(path, os.X_OK):
            print(f"{name}: {path} is not executable", file=sys.stderr)
            failed = True
            continue
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
            z.write(path, "bootstrap")
        size = os.path.getsize(path)
        zipped = len(buffer.getvalue())
        print(f"{name:<20} {size / 1e6:>9.2f} MB {zipped / 1e6:>9.2f} MB")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "target/lambda"))
