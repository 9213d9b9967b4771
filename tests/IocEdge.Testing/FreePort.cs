using System.Net;
using System.Net.Sockets;

namespace IocEdge.Testing;

/// <summary>Hands out loopback TCP ports that were free a moment ago.</summary>
/// <remarks>
/// Ports come from 20000-32767, below Linux's ephemeral range (net.ipv4.ip_local_port_range, 32768-60999 by default):
/// a port the kernel handed out for a listener on port 0 is also a candidate source port for any outgoing connection
/// on the machine, so with several test assemblies (and their brokers and clients) running at once it could be taken
/// between this check and the real bind. Random picks make two processes unlikely to collide; each is checked by
/// binding. Within one process a port is never handed out twice: a test assembly asks for a hundred or more ports, many
/// at once from tests running in parallel, and by the birthday rule two of them drawing the same port (free when each
/// checked, bound by the first to start) was likely enough to fail a CI run ("address already in use").
/// </remarks>
public static class FreePort
{
    private const int First = 20000, End = 32768;
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<int, byte> HandedOut = new();

    public static int Next()
    {
        for (var attempt = 0; attempt < 200; attempt++)
        {
            var port = Random.Shared.Next(First, End);
            if (!HandedOut.TryAdd(port, 0))
            {
                continue; // already given to a caller in this process
            }

            try
            {
                using var listener = new TcpListener(IPAddress.Loopback, port);
                listener.Start();
                return port;
            }
            catch (SocketException)
            {
                // Taken: try another.
            }
        }

        using var any = new TcpListener(IPAddress.Loopback, 0);
        any.Start();
        return ((IPEndPoint)any.LocalEndpoint).Port;
    }
}
