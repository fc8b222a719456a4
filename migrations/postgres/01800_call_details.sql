-- +goose Up
-- What a call's details show besides its record and transcript (issue 15),
-- written once per call when its media stream ends (never per frame).
--
-- call_tools: each tool the model called: its name, the outcome ('ok',
-- 'error': it ran and failed or timed out, 'refused': the call's agent or
-- policy did not allow it), how long it ran, and when it ended.
CREATE TABLE call_tools (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    call_sid    TEXT NOT NULL,
    name        TEXT NOT NULL,
    outcome     TEXT NOT NULL CHECK (outcome IN ('ok', 'error', 'refused')),
    duration_ms BIGINT NOT NULL,
    created_at  BIGINT NOT NULL
);
CREATE INDEX call_tools_call ON call_tools (call_sid, id);

-- call_metrics: one row per streamed call. first_audio_ms is from the
-- stream's start to the first agent audio handed to the caller (NULL: the
-- agent never spoke); response_* are the times from the end of the
-- caller's speech (the model's speech_stopped) to the first audio of the
-- answer, over 'responses' answers (NULL when there was none); tokens sum
-- the usage the model reported in response.done.
CREATE TABLE call_metrics (
    call_sid        TEXT PRIMARY KEY,
    first_audio_ms  BIGINT,
    response_p50_ms BIGINT,
    response_max_ms BIGINT,
    responses       BIGINT NOT NULL DEFAULT 0,
    input_tokens    BIGINT NOT NULL DEFAULT 0,
    output_tokens   BIGINT NOT NULL DEFAULT 0,
    created_at      BIGINT NOT NULL
);
CREATE INDEX call_metrics_created ON call_metrics (created_at);

-- +goose Down
DROP TABLE call_metrics;
DROP TABLE call_tools;
