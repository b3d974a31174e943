#!/bin/sh
# Workload 1: files, pipes, a loopback TCP connection and subprocesses. With an argument, the
# last step also makes the one syscall the recorded run never made (`chmod`, through Python).
set -e
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
printf 'delta\nalpha\ncharlie\nbravo\n' > "$dir/words"
sort < "$dir/words" | tr a-z A-Z | head -n 3 > "$dir/sorted"
cp "$dir/sorted" "$dir/copy"
wc -l < "$dir/copy"
cat "$dir/copy"
ln -s "$dir/copy" "$dir/link"
readlink "$dir/link" > /dev/null
mkdir "$dir/sub" && mv "$dir/copy" "$dir/sub/" && ls "$dir/sub"
python3 - "$dir" "${1:-}" <<'PY'
import errno, os, socket, sys, threading
d, extra = sys.argv[1], sys.argv[2]
server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind(("127.0.0.1", 0))
server.listen(1)
def serve():
    conn, _ = server.accept()
    data = conn.recv(100)
    conn.sendall(data.upper())
    conn.close()
t = threading.Thread(target=serve)
t.start()
client = socket.create_connection(server.getsockname())
client.sendall(b"over loopback")
print(client.recv(100).decode())
client.close()
t.join()
server.close()
r, w = os.pipe()
os.write(w, b"through a pipe")
os.close(w)
print(os.read(r, 100).decode())
os.close(r)
with open(os.path.join(d, "out"), "w") as f:
    f.write("x" * 1000)
print(os.stat(os.path.join(d, "out")).st_size)
if extra == "chmod":
    try:
        os.chmod(os.path.join(d, "out"), 0o600)
        print("chmod: allowed")
    except OSError as e:
        print("chmod:", errno.errorcode[e.errno])
PY
