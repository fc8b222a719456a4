-- +goose Up
-- What a call's record needs to tell its whole story (outbound calls,
-- call details, webhooks):
--   direction  'inbound' (Twilio called us) or 'outbound' (POST /api/calls)
--   placed_by  the name of the API token that placed an outbound call
--   end_reason why the call ended (voice.EndReason: caller_hangup,
--              agent_ended, transferred, max_duration, idle, machine,
--              model_error, operator, refused); '' while it is live
--   context    the operator's per-call addition to the agent's
--              instructions (outbound calls); erased with the callee
ALTER TABLE calls ADD COLUMN direction TEXT NOT NULL DEFAULT 'inbound';
ALTER TABLE calls ADD COLUMN placed_by TEXT NOT NULL DEFAULT '';
ALTER TABLE calls ADD COLUMN end_reason TEXT NOT NULL DEFAULT '';
ALTER TABLE calls ADD COLUMN context TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE calls DROP COLUMN context;
ALTER TABLE calls DROP COLUMN end_reason;
ALTER TABLE calls DROP COLUMN placed_by;
ALTER TABLE calls DROP COLUMN direction;
