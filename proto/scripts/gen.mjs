// Placeholder until the contracts land: generation is a no-op.
