// @longrun/telemetry: traces and metrics derived from the session log (DESIGN §8).
export const semconvVersion = '1.37.0';
