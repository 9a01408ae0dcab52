// Shows the typed errors: a refused write, a bad argument, and a SQL statement the server refuses.
// Run against a local server (`npm start`): node client/dist/examples/error-handling.js
import { HoraeDBArgumentError, HoraeDBClient, HoraeDBQueryError, HoraeDBWriteError } from "@horaedb/client";

const endpoint = process.env.HORAEDB_ENDPOINT ?? "127.0.0.1:8831";
const client = new HoraeDBClient({ endpoints: [endpoint], retry: { maxAttempts: 5 } });
const outcomes: Record<string, string> = {};

try {
  // `usage` becomes a double column; writing a string to it afterwards is refused for that table only.
  await client.write(client.point("example_errors").tag("host", "a").field("usage", 0.5));
  try {
    await client.write([
      client.point("example_errors").tag("host", "a").fieldString("usage", "high"),
      client.point("example_errors_ok").tag("host", "a").field("usage", 0.5),
    ]);
  } catch (error) {
    if (!(error instanceof HoraeDBWriteError)) throw error;
    // Each failed table request, with its status and the server's message; `written` lists the rest.
    for (const failure of error.failures) outcomes[failure.table] = `${failure.code}: ${failure.message}`;
    outcomes.written = error.written.map((t) => `${t.table}=${t.rows}`).join(",");
  }

  try {
    client.point("example_errors").fieldInt32("count", 2 ** 40);
  } catch (error) {
    if (!(error instanceof HoraeDBArgumentError)) throw error;
    outcomes.argument = error.message;
  }

  // A query that succeeds: the rows as plain objects.
  const rows = await client.sqlRows("SELECT host, usage FROM example_errors", { tables: ["example_errors"] });
  outcomes.rows = JSON.stringify(rows);

  try {
    await client.sql("SELECT hots FROM example_errors", { tables: ["example_errors"] });
  } catch (error) {
    // A statement the server refuses (bad SQL, unknown table or column) is a HoraeDBQueryError with
    // the server's status and message, which points at the line and column it blames.
    if (!(error instanceof HoraeDBQueryError)) throw error;
    outcomes.sql = `${error.code} (retryable: ${error.retryable}): ${error.message}`;
  }
  console.log(JSON.stringify(outcomes));
} finally {
  await client.close();
}
