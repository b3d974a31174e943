# Workload 2: many threads doing file I/O, a socketpair and a condition variable. With the
# argument `ptrace`, it also calls ptrace(PTRACE_TRACEME), which the recorded run never did.
import ctypes, errno, hashlib, os, socket, sys, tempfile, threading

results = {}
lock = threading.Lock()
ready = threading.Condition(lock)
started = 0

def work(n, directory):
    global started
    path = os.path.join(directory, f"t{n}")
    with open(path, "wb") as f:
        f.write(bytes([n]) * 4096)
    with open(path, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()[:12]
    a, b = socket.socketpair()
    a.sendall(digest.encode())
    echoed = b.recv(64).decode()
    a.close()
    b.close()
    with ready:
        results[n] = echoed
        started += 1
        ready.notify_all()

with tempfile.TemporaryDirectory() as directory:
    threads = [threading.Thread(target=work, args=(n, directory)) for n in range(8)]
    for t in threads:
        t.start()
    with ready:
        ready.wait_for(lambda: started == 8, timeout=30)
    for t in threads:
        t.join()
for n in sorted(results):
    print(n, results[n])
print("threads:", len(results))
if len(sys.argv) > 1 and sys.argv[1] == "ptrace":
    libc = ctypes.CDLL(None, use_errno=True)
    r = libc.ptrace(0, 0, None, None)  # PTRACE_TRACEME
    print("ptrace:", "allowed" if r == 0 else errno.errorcode[ctypes.get_errno()])
