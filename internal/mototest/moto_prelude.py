# Runs moto_server with two of moto's per-request lookups memoized and the
# cyclic garbage collector run less often. Each memo holds an answer that
# cannot change while the server runs, so the server's responses are byte
# for byte the same (TestPreludeSameAnswers compares them); a moto without
# these names runs as it is.
import functools, gc, logging, sys


def memoize():
    """Installs the memos into the loaded moto."""
    try:
        import moto.backends, moto.core.responses, moto.core.utils

        # moto 5.2 lists its own package directory, about 170 stat calls, on
        # every request to find the request's backend.
        _mods = tuple(moto.backends.list_of_moto_modules())
        moto.backends.list_of_moto_modules = lambda: _mods
        # inspect.getmembers of the response class, on every request.
        moto.core.responses.method_names_from_class = functools.lru_cache(maxsize=None)(
            moto.core.utils.method_names_from_class)
    except (ImportError, AttributeError):
        pass


if __name__ == "__main__":
    # werkzeug logs a line per request, to a stderr nobody reads.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    memoize()
    # A server's first EC2 request loads botocore's model and moto's resource
    # files, and every new account's EC2 backend builds about 1 200 AMI
    # objects: hundreds of thousands of objects, over which Python's default
    # thresholds (700, 10, 10) run the cyclic collector again and again.
    # Rarer collections take that first request from 0.8 to 0.55 s of CPU
    # and fabric's tests with their servers from 40.3 to 38.9 s, and change
    # no answer.
    gc.set_threshold(100_000, 50, 1000)
    from moto.server import main

    sys.exit(main())
