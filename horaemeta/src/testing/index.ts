/** Test support: a simulated horaedb instance answering horaemeta's events. */
export {
  SimulatedInstance,
  type ReceivedEvent,
  type SimulatedBehaviour,
  type SimulatedInstanceOptions,
  type SimulatedRole,
  type SimulatedShard,
} from "./simulated-instance.js";
