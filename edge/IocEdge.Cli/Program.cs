using IocEdge.Cli;

return await IocEdgeCli.RunAsync(args, CliConsole.FromProcess()).ConfigureAwait(false);
