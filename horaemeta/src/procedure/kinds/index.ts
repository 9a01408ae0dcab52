/** Every kind of procedure, registered with the manager so that it can resume them after a restart. */
import type { ProcedureManager } from "../procedure-manager.js";
import { failoverProcedure } from "./failover.js";
import { createPartitionedTableProcedure, dropPartitionedTableProcedure } from "./partitioned-table.js";
import { closeShardProcedure, openShardProcedure } from "./shard-open-close.js";
import { mergeShardsProcedure, splitShardProcedure } from "./split-merge.js";
import { createTableProcedure, dropTableProcedure } from "./table-create-drop.js";
import { transferLeaderProcedure } from "./transfer-leader.js";

export {
  closeShardProcedure,
  createPartitionedTableProcedure,
  createTableProcedure,
  dropPartitionedTableProcedure,
  dropTableProcedure,
  failoverProcedure,
  mergeShardsProcedure,
  openShardProcedure,
  splitShardProcedure,
  transferLeaderProcedure,
};

export function registerProcedureKinds(manager: ProcedureManager): void {
  manager.register(openShardProcedure);
  manager.register(closeShardProcedure);
  manager.register(createTableProcedure);
  manager.register(dropTableProcedure);
  manager.register(createPartitionedTableProcedure);
  manager.register(dropPartitionedTableProcedure);
  manager.register(transferLeaderProcedure);
  manager.register(failoverProcedure);
  manager.register(splitShardProcedure);
  manager.register(mergeShardsProcedure);
}
