using System.Net;
using System.Net.Sockets;

namespace IocEdge.Testing;

/// <summary>Hands out loopback TCP ports that were free a moment ago.</summary>
public static class FreePort
{
    public static int Next()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
