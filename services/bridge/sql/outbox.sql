-- The outbox table the bridge reads (BRIDGE_PG_OUTBOX_TABLE=pubsub_outbox): write a row in the
-- same transaction as the change it announces; the bridge publishes it to `topic` and deletes it
-- once the msgqueue holds it. A row refused as bad input keeps a dead_reason and stays.
CREATE TABLE pubsub_outbox (
  id bigserial PRIMARY KEY,
  topic text NOT NULL,
  payload jsonb NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  dead_reason text
);

-- Wakes the bridge once per inserting statement (BRIDGE_PG_OUTBOX_CHANNEL, the table's name by default).
CREATE FUNCTION pubsub_outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('pubsub_outbox', '');
  RETURN NULL;
END $$;

CREATE TRIGGER pubsub_outbox_notify AFTER INSERT ON pubsub_outbox
  FOR EACH STATEMENT EXECUTE FUNCTION pubsub_outbox_notify();
