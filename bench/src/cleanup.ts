/**
 * What a bench must undo however it ends (child processes, temporary directories): run in reverse
 * order of registration at the end of `main`, and on SIGINT / SIGTERM before exiting.
 */
type CleanupAction = () => Promise<void>;

const actions: { readonly what: string; readonly action: CleanupAction }[] = [];
let running: Promise<void> | undefined;

/** Registers `action`; returns a function that runs it now (once) and unregisters it. */
export function onCleanup(what: string, action: CleanupAction): () => Promise<void> {
  const entry = { what, action };
  actions.push(entry);
  return async () => {
    const index = actions.indexOf(entry);
    if (index < 0) return;
    actions.splice(index, 1);
    await action();
  };
}

/** Runs every registered action, last first; a failure is reported and the others still run. */
export function runCleanup(): Promise<void> {
  running ??= (async () => {
    while (actions.length > 0) {
      const { what, action } = actions.pop() as (typeof actions)[number];
      try {
        await action();
      } catch (error) {
        console.error(`cleanup of ${what} failed: ${String(error)}`);
      }
    }
  })();
  return running;
}

/** On SIGINT or SIGTERM: clean up, then exit with 128 + the signal's number. */
export function cleanupOnSignals(): void {
  for (const [signal, code] of [
    ["SIGINT", 130],
    ["SIGTERM", 143],
  ] as const) {
    process.once(signal, () => {
      console.error(`\n${signal}: stopping`);
      void runCleanup().finally(() => process.exit(code));
    });
  }
}
