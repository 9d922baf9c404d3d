#!/usr/bin/env python3
"""A TLS-terminating relay in front of a plain broker, for deploy/podman/run.sh: the container
speaks amqps:// (as deploy/k8s/ configures it) with the CA from its mounted Secret, the relay
forwards the plaintext to the local RabbitMQ. Standard library only.

  tls_relay.py CERT KEY TARGET_HOST TARGET_PORT
      listens on a free port of 127.0.0.1, prints it on one line, relays until killed
"""

import asyncio
import socket
import ssl
import sys


async def pipe(reader, writer):
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, ssl.SSLError):
        pass
    finally:
        writer.close()


async def main(cert, key, host, port):
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)

    async def handle(client_reader, client_writer):
        try:
            broker_reader, broker_writer = await asyncio.open_connection(host, port)
        except OSError:
            client_writer.close()
            return
        await asyncio.gather(pipe(client_reader, broker_writer), pipe(broker_reader, client_writer))

    server = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=context, family=socket.AF_INET)
    print(server.sockets[0].getsockname()[1], flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    if len(sys.argv) != 5:
        sys.exit(__doc__)
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])))
