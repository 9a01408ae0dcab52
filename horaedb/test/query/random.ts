/** A small seeded PRNG (mulberry32) so tests get the same "random" data on every run. */
export { mulberry32 as mulberryRandom } from "../../src/testing/tsbs.js";
