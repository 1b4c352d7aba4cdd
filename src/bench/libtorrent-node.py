"""One libtorrent node of the bench's BitTorrent comparison (src/bench/libtorrent.ts drives it).

  libtorrent-node.py make FILE TORRENT PIECE_BYTES   writes a torrent of FILE and exits
  libtorrent-node.py seed TORRENT DIR                seeds DIR/<name> (already whole, not re-checked)
  libtorrent-node.py leech TORRENT DIR               downloads into DIR

A node prints one JSON object per line on stdout. It opens its session and prints
{"event": "ready", "port": P}, then waits for one line on stdin: {"peers": [[host, port], ...]}.
It adds the torrent, connects to those peers directly and, as a leecher, prints
{"event": "finished", "bytes": N} once every piece passed its hash check. A node exits when its stdin
closes. TCP only: over loopback uTP is several times slower than TCP, and DHT, LSD, UPnP and NAT-PMP
are off so the peers given are the only ones.
"""
import json
import os
import sys
import threading

import libtorrent as lt


def emit(event, **fields):
    sys.stdout.write(json.dumps(dict(event=event, **fields)) + "\n")
    sys.stdout.flush()


def make(path, torrent_path, piece_bytes):
    storage = lt.file_storage()
    lt.add_files(storage, path)
    creator = lt.create_torrent(storage, piece_bytes)
    lt.set_piece_hashes(creator, os.path.dirname(os.path.abspath(path)))
    with open(torrent_path, "wb") as out:
        out.write(lt.bencode(creator.generate()))


def session():
    return lt.session(
        {
            "listen_interfaces": "127.0.0.1:0",
            "enable_outgoing_utp": False,
            "enable_incoming_utp": False,
            "enable_outgoing_tcp": True,
            "enable_incoming_tcp": True,
            "enable_dht": False,
            "enable_lsd": False,
            "enable_upnp": False,
            "enable_natpmp": False,
            # Every peer is 127.0.0.1: without this a second connection from that address is refused.
            "allow_multiple_connections_per_ip": True,
            "alert_mask": lt.alert_category.status | lt.alert_category.error,
        }
    )


def run(role, torrent_path, save_dir):
    ses = session()
    emit("ready", port=ses.listen_port())
    line = sys.stdin.readline()
    if not line:
        return
    peers = json.loads(line)["peers"]
    params = lt.add_torrent_params()
    params.ti = lt.torrent_info(torrent_path)
    params.save_path = save_dir
    if role == "seed":
        params.flags |= lt.torrent_flags.seed_mode
    handle = ses.add_torrent(params)
    for host, port in peers:
        handle.connect_peer((host, port))

    closed = threading.Event()
    threading.Thread(target=lambda: (sys.stdin.read(), closed.set()), daemon=True).start()
    finished = role == "seed"
    while not closed.is_set():
        ses.wait_for_alert(200)
        for alert in ses.pop_alerts():
            if isinstance(alert, lt.torrent_error_alert):
                emit("error", message=alert.message())
                sys.exit(1)
            if not finished and isinstance(alert, lt.torrent_finished_alert):
                finished = True
                # Wait for every piece to be written before the driver compares the file on disk.
                handle.flush_cache()
                status = handle.status()
                emit("finished", bytes=status.total_wanted_done)


def main(argv):
    if argv[0] == "make":
        make(argv[1], argv[2], int(argv[3]))
    elif argv[0] in ("seed", "leech"):
        run(argv[0], argv[1], argv[2])
    else:
        sys.exit("usage: libtorrent-node.py make|seed|leech ...")


if __name__ == "__main__":
    main(sys.argv[1:])
