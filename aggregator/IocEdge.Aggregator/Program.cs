using IocEdge.Aggregator;

return await AggregatorMain.RunAsync(args).ConfigureAwait(false);
