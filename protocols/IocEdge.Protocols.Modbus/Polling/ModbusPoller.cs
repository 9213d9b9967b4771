using System.Runtime.CompilerServices;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace IocEdge.Protocols.Modbus;

/// <summary>
/// Polls the points of the slaves on one link (one <see cref="IModbusMaster"/>): plans the fewest requests per slave,
/// reads the points that are due, decodes them, and returns one <see cref="PointReading"/> per due point every cycle,
/// whatever the slaves do.
/// </summary>
/// <remarks>
/// <para>
/// One dead or slow slave never stalls the others: a slave that does not answer one request is sent nothing more in
/// that cycle (its points get <see cref="PointQuality.CommFailure"/>), and after
/// <see cref="ModbusPollerOptions.BreakerFailureThreshold"/> consecutive failures its circuit breaker opens: it is not
/// asked at all (its points get <see cref="PointQuality.Stale"/> with their last good value) until the back-off ends,
/// when one probe request decides whether it is back. The back-off doubles at every failed probe up to a cap.
/// </para>
/// <para>
/// A request answered with exception 02 (illegal data address) is split in halves until the refused part is found;
/// the refused addresses are remembered per slave and later plans never span them. Points whose own registers are
/// refused get <see cref="PointQuality.DeviceException"/> without a request. A request of two or more points answered
/// with exception 03 (illegal data value: the quantity is more than the device serves), or with 02 when both halves
/// read fine, is split the same way, and the largest size that worked below the smallest refused size is remembered
/// per slave and table (<see cref="ModbusSlaveStatus.LearnedRequestLimits"/>), so a refused request is not repeated.
/// </para>
/// <para>
/// Each value is judged as it is decoded (<see cref="ModbusPointDefinition.Assess"/>): a declared sentinel word or a
/// NaN/infinite float gives <see cref="PointQuality.Invalid"/> (value NaN), a value outside the valid range gives
/// <see cref="PointQuality.OutOfRange"/> (value kept). Neither replaces the last good value.
/// </para>
/// <para>
/// Requests on the link are sent one after another (an RS-485 line carries one exchange at a time). Time comes only
/// from the <see cref="TimeProvider"/>: schedules and back-offs run on its monotonic clock
/// (<see cref="TimeProvider.GetTimestamp"/>), so a gateway whose wall clock NTP steps keeps polling on time; the wall
/// clock (<see cref="TimeProvider.GetUtcNow"/>) only stamps readings. Not thread-safe: one caller drives the poller.
/// </para>
/// </remarks>
public sealed class ModbusPoller
{
    private readonly IModbusMaster _master;
    private readonly ModbusPollerOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly PointState[] _points;
    private readonly ModbusAddressRange[] _ranges;
    private readonly SlaveState[] _slaves;
    private readonly long _origin;
    private int _busy;

    /// <summary>Builds a poller; validates the options and every point definition.</summary>
    /// <exception cref="ArgumentException">Bad options or point definitions; the message lists every problem with its key and fix.</exception>
    public ModbusPoller(IModbusMaster master, IEnumerable<ModbusPointDefinition> points, ModbusPollerOptions options,
        TimeProvider time, ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(master);
        ArgumentNullException.ThrowIfNull(points);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(time);
        options.Validate();
        _master = master;
        _options = options;
        _time = time;
        _logger = logger ?? NullLogger.Instance;

        var definitions = points.ToArray();
        var errors = new List<string>();
        var ids = new HashSet<string>(StringComparer.Ordinal);
        foreach (var p in definitions)
        {
            ArgumentNullException.ThrowIfNull(p, nameof(points));
            errors.AddRange(p.GetErrors());
            if (!string.IsNullOrWhiteSpace(p.Id) && !ids.Add(p.Id))
            {
                errors.Add($"Point '{p.Id}': the id appears more than once; point ids must be unique.");
            }

            var limit = options.PlannerFor(p.UnitId).MaxRegistersPerRequest;
            if (p.GetErrors().Count == 0 && !ModbusPollPlanner.IsBitTable(p.Kind) && p.Range.Count > limit)
            {
                errors.Add($"Point '{p.Id}': {p.Range.Count} registers exceed the {limit} registers per request unit {p.UnitId} accepts (MaxRegistersPerRequest); raise the limit or shorten the point.");
            }
        }

        if (errors.Count > 0)
        {
            throw new ArgumentException("Invalid Modbus point definitions:" + Environment.NewLine + string.Join(Environment.NewLine, errors),
                nameof(points));
        }

        _origin = time.GetTimestamp();
        _points = definitions.Select(p => new PointState(p, p.PollPeriod ?? options.DefaultPollPeriod, TimeSpan.Zero)).ToArray();
        _ranges = definitions.Select(p => p.Range).ToArray();
        _slaves = definitions
            .Select((p, i) => (p.UnitId, Index: i))
            .GroupBy(x => x.UnitId)
            .OrderBy(g => g.Key)
            .Select(g => new SlaveState(g.Key, g.Select(x => x.Index).ToArray(), options, options.PlannerFor(g.Key)))
            .ToArray();
    }

    /// <summary>The point definitions, in the order readings are returned.</summary>
    public IReadOnlyList<ModbusPointDefinition> Points => Array.ConvertAll(_points, p => p.Definition);

    /// <summary>
    /// When the next point falls due, on the wall clock (now + <see cref="TimeUntilNextDue"/>): for display only; the
    /// schedule itself runs on the monotonic clock.
    /// </summary>
    public DateTimeOffset NextDueTime => _time.GetUtcNow() + TimeUntilNextDue;

    /// <summary>How long until the next point falls due, on the monotonic clock (zero or negative: due now).</summary>
    public TimeSpan TimeUntilNextDue
    {
        get
        {
            var next = TimeSpan.MaxValue;
            foreach (var p in _points)
            {
                next = p.NextDue < next ? p.NextDue : next;
            }

            return next - Elapsed;
        }
    }

    /// <summary>Monotonic time since the poller was built: the clock of schedules and back-offs.</summary>
    private TimeSpan Elapsed => _time.GetElapsedTime(_origin);

    /// <summary>
    /// Runs one poll cycle: reads every point that is due now and returns exactly one reading for each of them, in
    /// definition order (empty when nothing is due). Only the caller's cancellation ends it early.
    /// </summary>
    public async ValueTask<IReadOnlyList<PointReading>> PollAsync(CancellationToken cancellationToken = default)
    {
        if (Interlocked.Exchange(ref _busy, 1) == 1)
        {
            throw new InvalidOperationException("PollAsync is already running; one caller drives a ModbusPoller.");
        }

        try
        {
            return await PollCoreAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            Volatile.Write(ref _busy, 0);
        }
    }

    /// <summary>
    /// Polls for ever: waits (on the TimeProvider) until points fall due, then yields that cycle's readings (never an
    /// empty cycle).
    /// </summary>
    public async IAsyncEnumerable<IReadOnlyList<PointReading>> RunAsync(
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var wait = TimeUntilNextDue;
            if (wait > TimeSpan.Zero)
            {
                // System timers count whole milliseconds and may fire a fraction early: round the wait up.
                await Task.Delay(TimeSpan.FromMilliseconds(Math.Ceiling(wait.TotalMilliseconds)), _time, cancellationToken)
                    .ConfigureAwait(false);
            }

            var readings = await PollAsync(cancellationToken).ConfigureAwait(false);
            if (readings.Count > 0)
            {
                yield return readings;
            }
        }
    }

    /// <summary>Health of every slave on the link. May be called from another thread while a cycle runs (a loose snapshot:
    /// counters may be one request apart).</summary>
    public IReadOnlyList<ModbusSlaveStatus> GetSlaveStatus()
    {
        var elapsed = Elapsed;
        var wallNow = _time.GetUtcNow();
        return _slaves.Select(s => new ModbusSlaveStatus(
            s.UnitId, s.Breaker.State, s.Breaker.ConsecutiveFailures,
            s.Breaker.OpenUntil is { } until ? wallNow + (until - elapsed) : null, s.Requests, s.CommFailures,
            s.DeviceExceptions, s.SkippedCycles, s.Refused.ToRanges())
        {
            LearnedRequestLimits = s.Sizes.ToDictionary(),
        }).ToArray();
    }

    /// <summary>Forgets the addresses and request sizes a slave was learned to refuse (after its configuration or
    /// firmware changed).</summary>
    public void ForgetRefusedAddresses(byte unitId)
    {
        foreach (var s in _slaves)
        {
            if (s.UnitId == unitId)
            {
                s.Refused.Clear();
                s.Sizes.Clear();
                s.LoggedLimits.Clear();
            }
        }
    }

    private async ValueTask<IReadOnlyList<PointReading>> PollCoreAsync(CancellationToken ct)
    {
        var cycleStart = Elapsed;
        var results = new PointReading?[_points.Length];
        var anyDue = false;
        foreach (var slave in _slaves)
        {
            var due = slave.PointIndices.Where(i => _points[i].NextDue <= cycleStart).ToArray();
            if (due.Length == 0)
            {
                continue;
            }

            anyDue = true;
            await PollSlaveAsync(slave, due, results, ct).ConfigureAwait(false);
            LogLearnedLimits(slave);
        }

        if (!anyDue)
        {
            return [];
        }

        var readings = new List<PointReading>();
        for (var i = 0; i < _points.Length; i++)
        {
            if (results[i] is { } reading)
            {
                readings.Add(reading);
                _points[i].Schedule(cycleStart);
            }
        }

        return readings;
    }

    private async ValueTask PollSlaveAsync(SlaveState slave, int[] due, PointReading?[] results, CancellationToken ct)
    {
        var now = _time.GetUtcNow();
        if (!slave.Breaker.TryEnter(Elapsed, out var probe))
        {
            slave.SkippedCycles++;
            foreach (var i in due)
            {
                // Not asked this cycle: the last good value, marked stale (comm failure if there never was one).
                results[i] = _points[i].LastKnown(_points[i].HasValue ? PointQuality.Stale : PointQuality.CommFailure, now);
            }

            return;
        }

        if (probe)
        {
            PollerLog.BreakerProbe(_logger, slave.UnitId);
        }

        var duePoints = Array.ConvertAll(due, i => _ranges[i]);
        var plan = ModbusPollPlanner.Plan(duePoints, slave.Planner, slave.Refused, slave.Sizes);
        foreach (var k in plan.Refused)
        {
            results[due[k]] = _points[due[k]].LastKnown(PointQuality.DeviceException, now) with
            {
                ExceptionCode = ModbusExceptionCode.IllegalDataAddress,
            };
        }

        var silent = false;
        foreach (var planned in plan.Requests)
        {
            // Re-express the request over point indices of the whole poller rather than of this cycle's due list.
            var request = new ModbusReadRequest(planned.Kind, planned.Address, planned.Count,
                planned.Points.Select(k => due[k]).ToArray());
            if (silent)
            {
                Fail(request, results, PointQuality.CommFailure, null);
                continue;
            }

            var outcome = await ReadAsync(slave, request, results, ct).ConfigureAwait(false);
            if (outcome == Outcome.NoAnswer)
            {
                if (slave.Breaker.OnFailure(Elapsed))
                {
                    PollerLog.BreakerOpened(_logger, slave.UnitId, slave.Breaker.ConsecutiveFailures,
                        slave.Breaker.CurrentBackoff ?? TimeSpan.Zero);
                }

                silent = _options.SkipSlaveAfterFailure || slave.Breaker.State == ModbusBreakerState.Open;
            }
            else if (slave.Breaker.OnSuccess())
            {
                PollerLog.BreakerClosed(_logger, slave.UnitId);
            }
        }
    }

    /// <summary>Reads one request and fills its points' results; splits it when the slave refuses an address.</summary>
    private async ValueTask<Outcome> ReadAsync(SlaveState slave, ModbusReadRequest request, PointReading?[] results,
        CancellationToken ct)
    {
        slave.Requests++;
        try
        {
            if (ModbusPollPlanner.IsBitTable(request.Kind))
            {
                var bits = request.Kind == RegisterKind.Coil
                    ? await _master.ReadCoilsAsync(slave.UnitId, request.Address, request.Count, ct).ConfigureAwait(false)
                    : await _master.ReadDiscreteInputsAsync(slave.UnitId, request.Address, request.Count, ct).ConfigureAwait(false);
                return Delivered(slave, request, Deliver(slave, request, results, bits.Length, i => bits[i] ? 1 : 0, null));
            }

            var registers = request.Kind == RegisterKind.HoldingRegister
                ? await _master.ReadHoldingRegistersAsync(slave.UnitId, request.Address, request.Count, ct).ConfigureAwait(false)
                : await _master.ReadInputRegistersAsync(slave.UnitId, request.Address, request.Count, ct).ConfigureAwait(false);
            return Delivered(slave, request, Deliver(slave, request, results, registers.Length, null, registers));
        }
        catch (ModbusDeviceException ex) when (ex.Code == ModbusExceptionCode.IllegalDataAddress
                                                || (ex.Code == ModbusExceptionCode.IllegalDataValue && request.Points.Count > 1))
        {
            slave.DeviceExceptions++;
            return await LearnRefusedAsync(slave, request, results, ex.Code, ct).ConfigureAwait(false);
        }
        catch (ModbusDeviceException ex) when (ex.Code is ModbusExceptionCode.GatewayPathUnavailable
                                                   or ModbusExceptionCode.GatewayTargetDeviceFailedToRespond)
        {
            // A gateway answered for a slave behind it that did not: the slave is as silent as a timeout.
            slave.CommFailures++;
            PollerLog.RequestFailed(_logger, slave.UnitId, request.ToString(), ex.Message);
            Fail(request, results, PointQuality.CommFailure, ex.Code);
            return Outcome.NoAnswer;
        }
        catch (ModbusDeviceException ex)
        {
            slave.DeviceExceptions++;
            PollerLog.RequestFailed(_logger, slave.UnitId, request.ToString(), ex.Message);
            Fail(request, results, PointQuality.DeviceException, ex.Code);
            return Outcome.Answered;
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            throw;
        }
        catch (ModbusException ex)
        {
            slave.CommFailures++;
            PollerLog.RequestFailed(_logger, slave.UnitId, request.ToString(), ex.Message);
            Fail(request, results, PointQuality.CommFailure, null);
            return Outcome.NoAnswer;
        }
#pragma warning disable CA1031 // Whatever the link throws (I/O, socket, a disposed port), the cycle still returns a reading per point.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            slave.CommFailures++;
            PollerLog.RequestFailedUnexpectedly(_logger, ex, slave.UnitId, request.ToString());
            Fail(request, results, PointQuality.CommFailure, null);
            return Outcome.NoAnswer;
        }
    }

    private static Outcome Delivered(SlaveState slave, ModbusReadRequest request, Outcome outcome)
    {
        if (outcome == Outcome.Answered)
        {
            slave.Sizes.Worked(request.Kind, request.Count);
        }

        return outcome;
    }

    private void LogLearnedLimits(SlaveState slave)
    {
        foreach (var (kind, limit) in slave.Sizes.ToDictionary())
        {
            if (!slave.LoggedLimits.TryGetValue(kind, out var logged) || logged != limit)
            {
                slave.LoggedLimits[kind] = limit;
                PollerLog.RequestSizeLearned(_logger, slave.UnitId, limit, ModbusPollPlanner.ReadFunctionCode(kind));
            }
        }
    }

    private async ValueTask<Outcome> LearnRefusedAsync(SlaveState slave, ModbusReadRequest request,
        PointReading?[] results, ModbusExceptionCode code, CancellationToken ct)
    {
        if (request.Points.Count == 1)
        {
            // The point's own registers hold the refused address; which one does not matter: the point is unreadable.
            var range = _ranges[request.Points[0]];
            slave.Refused.Add(range.Kind, range.Address, range.Count);
            PollerLog.AddressesRefused(_logger, slave.UnitId, range.ToString());
            Fail(request, results, PointQuality.DeviceException, ModbusExceptionCode.IllegalDataAddress);
            return Outcome.Answered;
        }

        PollerLog.SplittingRequest(_logger, slave.UnitId, request.ToString());
        var (left, right) = ModbusPollPlanner.Split(request, _ranges);
        var leftRefusals = slave.Refused.Count;
        var leftOutcome = await ReadAsync(slave, left, results, ct).ConfigureAwait(false);
        if (leftOutcome == Outcome.NoAnswer)
        {
            Fail(right, results, PointQuality.CommFailure, null);
            return Outcome.NoAnswer;
        }

        var rightOutcome = await ReadAsync(slave, right, results, ct).ConfigureAwait(false);
        var leftEnd = left.Address + left.Count - 1;
        var noAddressRefused = slave.Refused.Count == leftRefusals;
        if (code == ModbusExceptionCode.IllegalDataValue
            || (rightOutcome == Outcome.Answered && noAddressRefused && right.Address <= leftEnd + 1))
        {
            // 03 is about the quantity; 02 whose halves both read, with no unused gap between them, can only be about
            // the size too. Remember it so that later plans stay below it.
            slave.Sizes.Refused(request.Kind, request.Count);
        }
        else if (rightOutcome == Outcome.Answered && noAddressRefused && right.Address > leftEnd + 1)
        {
            // Both halves were read without refusal, so what the slave refused lies in the unused gap between them.
            slave.Refused.Add(request.Kind, (ushort)(leftEnd + 1), right.Address - leftEnd - 1);
            PollerLog.AddressesRefused(_logger, slave.UnitId,
                new ModbusAddressRange(request.Kind, (ushort)(leftEnd + 1), right.Address - leftEnd - 1).ToString());
        }

        return rightOutcome;
    }

    private Outcome Deliver(SlaveState slave, ModbusReadRequest request, PointReading?[] results, int length,
        Func<int, double>? bit, ushort[]? registers)
    {
        if (length < request.Count)
        {
            // The master should never return a short answer; treat it as a broken exchange rather than read past it.
            slave.CommFailures++;
            PollerLog.RequestFailed(_logger, slave.UnitId, request.ToString(), $"short answer ({length} of {request.Count})");
            Fail(request, results, PointQuality.CommFailure, null);
            return Outcome.NoAnswer;
        }

        var now = _time.GetUtcNow();
        foreach (var i in request.Points)
        {
            var point = _points[i];
            var offset = point.Definition.Address - request.Address;
            if (bit is not null)
            {
                results[i] = point.Judged(null, ModbusValueCodec.Scale(bit(offset), point.Definition.Scale, point.Definition.Offset), now);
            }
            else
            {
                results[i] = Decode(point, registers.AsSpan(offset, _ranges[i].Count), now);
            }
        }

        return Outcome.Answered;
    }

    private static PointReading Decode(PointState point, ReadOnlySpan<ushort> registers, DateTimeOffset now)
    {
        var d = point.Definition;
        return d.DataType switch
        {
            ModbusDataType.String => point.Good(double.NaN, ModbusValueCodec.DecodeString(registers, d.ByteOrder), now),
            ModbusDataType.Bit => point.Judged(null,
                ModbusValueCodec.Scale(ModbusValueCodec.DecodeBit(registers[0], d.BitIndex) ? 1 : 0, d.Scale, d.Offset), now),
            _ => point.Judged(ModbusValueCodec.DecodeBits(registers, d.DataType, d.ByteOrder),
                ModbusValueCodec.Decode(registers, d.DataType, d.ByteOrder, d.Scale, d.Offset), now),
        };
    }

    private void Fail(ModbusReadRequest request, PointReading?[] results, PointQuality quality, ModbusExceptionCode? code)
    {
        var now = _time.GetUtcNow();
        foreach (var i in request.Points)
        {
            results[i] = _points[i].LastKnown(quality, now) with { ExceptionCode = code };
        }
    }

    private enum Outcome
    {
        /// <summary>The slave answered: values, or an exception response (it is alive).</summary>
        Answered,

        /// <summary>No usable answer: the slave (or the link) is silent.</summary>
        NoAnswer,
    }

    private sealed class PointState(ModbusPointDefinition definition, TimeSpan period, TimeSpan firstDue)
    {
        private double _lastValue = double.NaN;
        private string? _lastText;

        public ModbusPointDefinition Definition { get; } = definition;

        /// <summary>Monotonic time (since the poller started) at which the point falls due.</summary>
        public TimeSpan NextDue { get; private set; } = firstDue;

        public bool HasValue { get; private set; }

        public PointReading Good(double value, string? text, DateTimeOffset now)
        {
            _lastValue = value;
            _lastText = text;
            HasValue = true;
            return new PointReading(Definition.Id, value, PointQuality.Good, now) { Text = text };
        }

        /// <summary>A decoded value, judged by the definition: Good replaces the last good value; Invalid travels as
        /// NaN; OutOfRange keeps its value but does not become the value a later Stale repeats.</summary>
        public PointReading Judged(ulong? rawBits, double value, DateTimeOffset now)
        {
            var quality = Definition.Assess(rawBits, value);
            if (quality == PointQuality.Invalid)
            {
                return new PointReading(Definition.Id, double.NaN, quality, now);
            }

            if (Definition.Decimals is { } decimals)
            {
                value = ModbusValueCodec.RoundSignificant(Math.Round(value, decimals, MidpointRounding.AwayFromZero), 15);
            }

            return quality == PointQuality.Good ? Good(value, null, now) : new PointReading(Definition.Id, value, quality, now);
        }

        public PointReading LastKnown(PointQuality quality, DateTimeOffset now) =>
            new(Definition.Id, _lastValue, quality, now) { Text = _lastText };

        /// <summary>Next due time on the point's own grid; a point that fell behind restarts from this cycle.</summary>
        public void Schedule(TimeSpan cycleStart)
        {
            var next = NextDue + period;
            NextDue = next > cycleStart ? next : cycleStart + period;
        }
    }

    private sealed class SlaveState(byte unitId, int[] pointIndices, ModbusPollerOptions options, ModbusPollPlannerOptions planner)
    {
        /// <summary>The link's planner options narrowed by this slave's configured limits.</summary>
        public ModbusPollPlannerOptions Planner { get; } = planner;

        public ModbusRequestSizeLimits Sizes { get; } = new();

        /// <summary>The learned limits already logged, so that each is logged once.</summary>
        public Dictionary<RegisterKind, int> LoggedLimits { get; } = [];

        public byte UnitId { get; } = unitId;

        public int[] PointIndices { get; } = pointIndices;

        public SlaveCircuitBreaker Breaker { get; } =
            new(options.BreakerFailureThreshold, options.BreakerInitialBackoff, options.BreakerMaxBackoff);

        public ModbusRefusedAddresses Refused { get; } = new();

        public long Requests { get; set; }

        public long CommFailures { get; set; }

        public long DeviceExceptions { get; set; }

        public long SkippedCycles { get; set; }
    }
}
