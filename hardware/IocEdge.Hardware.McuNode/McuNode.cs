using System.Buffers;
using IocEdge.Protocols.Compact;
using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Protocol;

namespace IocEdge.Hardware.McuNode;

/// <summary>What a simulated MCU-class node is (issue 14): its ids, channels, RAM ring and broker.</summary>
/// <param name="GatewayId">The topic's gateway level (contract §2), such as <c>gw-node-07</c>.</param>
/// <param name="StreamId">The base stream id, 1-21 lower-case letters and digits (contract §8.2); stored as <c>{stream}e{epoch}</c>.</param>
/// <param name="Channels">The channel table (id, unit, decimals from the sensor's resolution; contract §8.3).</param>
/// <param name="EepromPath">The file standing for the EEPROM cell that keeps the boot counter.</param>
/// <param name="BrokerHost">MQTT broker host.</param>
/// <param name="BrokerPort">MQTT broker port.</param>
/// <param name="RingCapacity">Readings the RAM ring holds (a few hundred on a microcontroller).</param>
/// <param name="MaxBatch">Readings per compact message at most.</param>
public sealed record McuNodeOptions(string GatewayId, string StreamId, IReadOnlyList<CompactChannel> Channels, string EepromPath,
    string BrokerHost, int BrokerPort, int RingCapacity = 256, int MaxBatch = 64);

/// <summary>
/// A simulated microcontroller-class node: no persistent storage except a 4-byte boot counter, readings kept in a RAM
/// ring, encoded with the allocation-free <see cref="CompactWriter"/> (the netstandard2.0 surface only) and published
/// with QoS 1 to <c>iocedge/v1/{gateway}/readings/bin</c> (contract §8). Readings leave the ring only on a successful
/// PUBACK. A <see cref="Reboot"/> loses the RAM (counted in <see cref="LostAtReboot"/>), restarts the sequence at 1 and
/// takes the next boot epoch, so the aggregator's key (gateway, {stream}e{epoch}, seq) stays unique (§8.2).
/// Not thread-safe: one sampling loop drives it, as on a microcontroller.
/// </summary>
public sealed class McuNode : IDisposable
{
    private readonly McuNodeOptions _options;
    private readonly TimeProvider _time;
    private readonly BootCounter _bootCounter;
    private readonly ReadingRing _ring;
    private readonly CompactWriter _writer;
    private readonly byte[] _buffer;
    private IMqttClient? _client;
    private long _nextSequence;

    /// <summary>Boots the node: reads and increments the boot counter (the first boot is epoch 1).</summary>
    /// <exception cref="ArgumentException">a stream id that cannot carry an epoch, or no channel.</exception>
    /// <exception cref="IOException">the boot counter cannot be written.</exception>
    public McuNode(McuNodeOptions options, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(time);
        if (!CompactFormat.IsValidStreamId(options.StreamId, 1))
        {
            throw new ArgumentException($"StreamId '{options.StreamId}': with a boot epoch, 1-21 lower-case letters and digits (contract §8.2).", nameof(options));
        }

        if (options.Channels.Count == 0 || options.MaxBatch is < 1 or > CompactFormat.MaxReadings)
        {
            throw new ArgumentException("A node needs at least one channel and MaxBatch 1 to 10 000.", nameof(options));
        }

        _options = options;
        _time = time;
        _bootCounter = new BootCounter(options.EepromPath);
        _ring = new ReadingRing(options.RingCapacity);
        _writer = new CompactWriter(options.Channels.Count);
        // Header + table + MaxBatch readings of at most 27 bytes each (contract §8.1: head 1, index 2, seq 8, ts 8, value 8).
        _buffer = new byte[64 + (options.Channels.Count * (4 + CompactFormat.MaxChannelLength + CompactFormat.MaxUnitLength)) + (options.MaxBatch * 27)];
        BootEpoch = _bootCounter.Next();
        _nextSequence = 1;
    }

    /// <summary>This boot's epoch (contract §8.2).</summary>
    public uint BootEpoch { get; private set; }

    /// <summary>The stream the aggregator stores this boot's readings under: <c>{stream}e{epoch}</c>.</summary>
    public string IdentityStreamId => CompactFormat.IdentityStreamId(_options.StreamId, BootEpoch);

    /// <summary>Readings waiting in RAM for a PUBACK.</summary>
    public int Buffered => _ring.Count;

    /// <summary>Readings acknowledged by a successful PUBACK since the first boot.</summary>
    public long Acknowledged { get; private set; }

    /// <summary>Readings that were in RAM, unacknowledged, when the node rebooted: the only loss a reboot causes.</summary>
    public long LostAtReboot { get; private set; }

    /// <summary>Readings overwritten because the ring was full (the link was down too long).</summary>
    public long Overwritten => _ring.Overwritten;

    /// <summary>Publishes that failed (no connection, or a PUBACK that was not a success); their readings stayed in RAM.</summary>
    public long PublishFailures { get; private set; }

    /// <summary>Takes one reading now (the node's clock) into the ring. Allocates nothing.</summary>
    /// <returns>The reading's sequence number in this boot.</returns>
    public long Sample(int channel, double value, CompactQuality quality = CompactQuality.Good)
    {
        if ((uint)channel >= (uint)_options.Channels.Count)
        {
            throw new ArgumentOutOfRangeException(nameof(channel), channel, "Not an index of the node's channel table.");
        }

        var entry = new RingEntry
        {
            Sequence = _nextSequence++,
            Channel = channel,
            TimestampMs = _time.GetUtcNow().ToUnixTimeMilliseconds(),
            Value = CompactFormat.CarriesValue(quality) ? value : 0,
            Quality = quality,
        };
        _ring.Add(entry);
        return entry.Sequence;
    }

    /// <summary>
    /// Encodes the oldest readings (up to MaxBatch) into one compact message; returns it as a view of the node's buffer
    /// (valid until the next Encode). Allocates nothing per reading.
    /// </summary>
    internal ArraySegment<byte> Encode(out int readings)
    {
        readings = Math.Min(_ring.Count, _options.MaxBatch);
        if (!_writer.Begin(_buffer, 0, _buffer.Length, _options.StreamId, BootEpoch, _options.Channels))
        {
            throw new InvalidOperationException("The node's buffer is too small for its channel table.");
        }

        for (var i = 0; i < readings; i++)
        {
            ref readonly var r = ref _ring[i];
            var added = CompactFormat.CarriesValue(r.Quality)
                ? _writer.TryAdd(r.Sequence, r.Channel, r.TimestampMs, r.Value, r.Quality)
                : _writer.TryAddWithoutValue(r.Sequence, r.Channel, r.TimestampMs, r.Quality);
            if (!added)
            {
                readings = i;
                break;
            }
        }

        return new ArraySegment<byte>(_buffer, 0, _writer.Finish());
    }

    /// <summary>
    /// Sends everything in RAM, one message at a time, removing each message's readings only after its successful
    /// PUBACK. Stops at the first failure (counted; the readings stay) and returns how many readings were acknowledged.
    /// </summary>
    public async Task<int> FlushAsync(CancellationToken cancellationToken = default)
    {
        var acknowledged = 0;
        while (_ring.Count > 0)
        {
            try
            {
                var client = await ConnectedClientAsync(cancellationToken).ConfigureAwait(false);
                var payload = Encode(out var n);
                var message = new MqttApplicationMessageBuilder()
                    .WithTopic($"iocedge/v1/{_options.GatewayId}/readings/bin")
                    .WithPayload(new ReadOnlySequence<byte>(payload.Array!, payload.Offset, payload.Count))
                    .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce)
                    .Build();
                var result = await client.PublishAsync(message, cancellationToken).ConfigureAwait(false);
                if (!result.IsSuccess)
                {
                    PublishFailures++;
                    return acknowledged;
                }

                _ring.RemoveOldest(n);
                Acknowledged += n;
                acknowledged += n;
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                // No PUBACK: the readings stay in RAM and go again on the next flush (the aggregator's key makes a
                // resend of a committed message harmless).
                PublishFailures++;
                DropConnection();
                return acknowledged;
            }
        }

        return acknowledged;
    }

    /// <summary>
    /// A power cycle: RAM and the connection are gone (the unacknowledged readings are counted in
    /// <see cref="LostAtReboot"/>), the sequence restarts at 1 and the boot counter gives the next epoch.
    /// </summary>
    public void Reboot()
    {
        LostAtReboot += _ring.Clear();
        DropConnection();
        BootEpoch = _bootCounter.Next();
        _nextSequence = 1;
    }

    public void Dispose() => DropConnection();

    private async Task<IMqttClient> ConnectedClientAsync(CancellationToken cancellationToken)
    {
        if (_client is { IsConnected: true })
        {
            return _client;
        }

        DropConnection();
        var client = new MqttClientFactory().CreateMqttClient();
        try
        {
            await client.ConnectAsync(new MqttClientOptionsBuilder()
                .WithTcpServer(_options.BrokerHost, _options.BrokerPort)
                .WithClientId(_options.GatewayId)
                .WithProtocolVersion(MqttProtocolVersion.V500)
                .WithTimeout(TimeSpan.FromSeconds(10))
                .Build(), cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            client.Dispose();
            throw;
        }

        _client = client;
        return client;
    }

    private void DropConnection()
    {
        _client?.Dispose();
        _client = null;
    }
}
