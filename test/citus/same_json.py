"""same_json.py A B TOL: the two psql outputs A and B agree line by line and field by
field (| separated; JSON values compared recursively): numbers within TOL (relative to
max(1, |b|)), everything else equal.  Exit 1, printing the first difference, otherwise."""
import json
import sys


def same(a, b, tol, where):
    if isinstance(a, bool) or isinstance(b, bool) or not isinstance(a, (int, float)) or not isinstance(b, (int, float)):
        if type(a) is not type(b):
            raise AssertionError(f"{where}: {a!r} vs {b!r}")
        if isinstance(a, dict):
            if set(a) != set(b):
                raise AssertionError(f"{where}: keys {sorted(set(a) ^ set(b))} differ")
            for k in a:
                same(a[k], b[k], tol, f"{where}.{k}")
        elif isinstance(a, list):
            if len(a) != len(b):
                raise AssertionError(f"{where}: lengths {len(a)} vs {len(b)}")
            for i, (x, y) in enumerate(zip(a, b)):
                same(x, y, tol, f"{where}[{i}]")
        elif a != b:
            raise AssertionError(f"{where}: {a!r} vs {b!r}")
        return
    if abs(a - b) > tol * max(1.0, abs(b)):
        raise AssertionError(f"{where}: {a!r} vs {b!r}")


def parse(field):
    try:
        return json.loads(field)
    except ValueError:
        return field


def main():
    a_lines = open(sys.argv[1]).read().splitlines()
    b_lines = open(sys.argv[2]).read().splitlines()
    tol = float(sys.argv[3])
    try:
        if len(a_lines) != len(b_lines) or not b_lines:
            raise AssertionError(f"{len(a_lines)} lines vs {len(b_lines)}")
        for n, (a, b) in enumerate(zip(a_lines, b_lines), 1):
            fa, fb = a.split("|"), b.split("|")
            if len(fa) != len(fb):
                raise AssertionError(f"line {n}: {len(fa)} fields vs {len(fb)}")
            for i, (x, y) in enumerate(zip(fa, fb)):
                same(parse(x), parse(y), tol, f"line {n} field {i + 1}")
    except AssertionError as e:
        print(f"differs: {e}")
        sys.exit(1)


main()
