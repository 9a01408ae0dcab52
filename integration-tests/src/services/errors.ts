/** Base class of every failure raised while installing, starting or stopping a test service. */
export class ServiceError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** A program a service needs is not installed and cannot be installed by us (not root). */
export class MissingProgramError extends ServiceError {
  constructor(
    readonly command: string,
    readonly debianPackage: string,
  ) {
    super(
      `'${command}' is not installed; install the Debian package '${debianPackage}' (apt-get install -y ${debianPackage})`,
    );
  }
}

/** `apt-get install` of a package failed. */
export class PackageInstallError extends ServiceError {
  constructor(
    readonly debianPackage: string,
    readonly output: string,
    options?: { cause?: unknown },
  ) {
    super(`apt-get install -y ${debianPackage} failed:\n${output}`, options);
  }
}

/** Maven could not resolve the jars of a Java service. */
export class MavenResolveError extends ServiceError {
  constructor(
    readonly runtime: string,
    readonly pomFile: string,
    readonly outputTail: string,
    options?: { cause?: unknown },
  ) {
    super(`resolving the ${runtime} jars from ${pomFile} with Maven failed:\n${outputTail}`, options);
  }
}

/** A service process did not become ready: it exited, timed out, or a preparation step failed. */
export class ServiceStartError extends ServiceError {
  constructor(
    readonly service: string,
    readonly reason: string,
    readonly logFile: string,
    readonly logTail: string,
    options?: { cause?: unknown },
  ) {
    super(
      `${service} did not start: ${reason} (log: ${logFile})\n--- last lines of the log ---\n${logTail}`,
      options,
    );
  }
}

/** The service exited because one of the ports it was given was taken meanwhile; retried with new ports. */
export class PortInUseError extends ServiceStartError {}

/** Several services failed to start; the ones that did start have been stopped again. */
export class ServicesStartError extends ServiceError {
  constructor(readonly failures: readonly Error[]) {
    super(
      `${failures.length} service(s) failed to start:\n\n${failures.map((f) => f.message).join("\n\n")}`,
      {
        cause: failures[0],
      },
    );
  }
}

/** A process survived SIGTERM and SIGKILL. */
export class ServiceStopError extends ServiceError {
  constructor(
    readonly service: string,
    readonly pid: number,
  ) {
    super(`${service} (pid ${pid}) did not exit after SIGKILL`);
  }
}

/** The state file of `npm run services` contradicts the requested command (already up, not up, corrupt). */
export class ServicesStateError extends ServiceError {}
