import { Injectable } from '@nestjs/common';

/** A dependency a service adds to its readiness: throws (one line) while the dependency is not usable. */
export type DependencyCheck = () => Promise<void> | void;

/**
 * Readiness checks a service registers at start-up beyond Redis and its work loop (the warehouse,
 * for one); `/health` reports each under its name and answers 503 while any of them throws.
 */
@Injectable()
export class DependencyChecks {
  private readonly checks = new Map<string, DependencyCheck>();

  register(name: string, check: DependencyCheck): void {
    this.checks.set(name, check);
  }

  entries(): [string, DependencyCheck][] {
    return [...this.checks];
  }
}
