using IocEdge.Aggregator;

var app = AggregatorHost.Build(args);
await using (app.ConfigureAwait(false))
{
    await app.RunAsync().ConfigureAwait(false);
}
