namespace IocEdge.Cli;

/// <summary>
/// The exit codes of every <c>iocedge</c> verb (stable: scripts depend on them). 69 and 78 are sysexits.h
/// EX_UNAVAILABLE and EX_CONFIG, the codes the gateway itself uses.
/// </summary>
public static class ExitCodes
{
    /// <summary>Everything asked for was done, every check passed.</summary>
    public const int Ok = 0;

    /// <summary>A check failed: a device answered with an exception, a doctor row failed, nothing was found.</summary>
    public const int CheckFailed = 1;

    /// <summary>The command line is wrong (unknown option, missing argument, bad value).</summary>
    public const int Usage = 2;

    /// <summary>sysexits.h EX_UNAVAILABLE: a peer (Modbus device, serial port, GPIO chip, broker) cannot be reached.</summary>
    public const int Unavailable = 69;

    /// <summary>sysexits.h EX_SOFTWARE: an internal error (a defect; please report it).</summary>
    public const int Software = 70;

    /// <summary>sysexits.h EX_CONFIG: the gateway configuration is missing or not valid.</summary>
    public const int Config = 78;
}
