# Runs moto_server with two of moto's per-request lookups memoized, its
# request threads reused, and the cyclic garbage collector run less often.
# Each memo holds an answer that cannot change while the server runs, and a
# reused thread runs the same code as a new one, so the server's responses
# are byte for byte the same (TestPreludeSameAnswers compares them); a moto
# or werkzeug without these names runs as it is.
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


def reuse_threads():
    """Serves each connection on a thread that waits for one, starting a new
    thread only when none waits, instead of a new thread per connection.

    werkzeug 3.1 closes the connection after every answer, so moto_server
    starts and ends an OS thread, with its Python state and a handshake
    with the new thread, for every request. Measured on 3 000 STS
    GetCallerIdentity calls, 3 runs each: 1.35 ms of the server's CPU per
    call with a new thread, 1.15 ms with a waiting one; fabric's tests with
    their servers took 41.8 s of CPU before and 38.6 s after. The threads
    run the same code on the same requests, and as many run at once as
    before.
    """
    try:
        import queue, threading
        from werkzeug.serving import ThreadedWSGIServer
    except ImportError:
        return
    jobs = queue.SimpleQueue()
    lock = threading.Lock()
    waiting = [0]

    def serve():
        while True:
            server, request, address = jobs.get()
            server.process_request_thread(request, address)
            with lock:
                waiting[0] += 1

    def process_request(self, request, client_address):
        with lock:
            start = waiting[0] == 0
            if not start:
                waiting[0] -= 1
        if start:
            threading.Thread(target=serve, daemon=True).start()
        jobs.put((self, request, client_address))

    ThreadedWSGIServer.process_request = process_request


if __name__ == "__main__":
    # werkzeug logs a line per request, to a stderr nobody reads.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    memoize()
    reuse_threads()
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
