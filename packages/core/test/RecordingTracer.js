/**
 * A tracer that records every span it makes, as an exporting (OpenTelemetry) tracer would,
 * for tests of what the library traces.
 */
import { Effect, Tracer } from "effect";
export const recordingTracer = Effect.map(Effect.tracer, (builtIn) => {
    const made = [];
    const tracer = Tracer.make({
        span: (...args) => {
            const span = builtIn.span(...args);
            made.push(span);
            return span;
        },
        context: builtIn.context
    });
    return { made, tracer };
});
//# sourceMappingURL=RecordingTracer.js.map