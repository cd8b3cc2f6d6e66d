// The rows of a virtual table, fetched a page at a time as they scroll into view.
// A reset drops the pages and makes the answers still in flight be ignored. The
// table's status line and its data-loading mark are kept here.

export const PAGE = 200;

export interface PageAnswer<T> { total: number; rows: T[] }

export class PagedRows<T> {
  total = 0;
  private pages = new Map<number, T[] | 'loading'>();
  private gen = 0;

  constructor(private o: {
    fetch: (offset: number, limit: number) => Promise<PageAnswer<T>>;
    /** "sample" or "span": the status line counts them. */
    noun: string;
    el: HTMLElement;
    status: HTMLElement;
    /** A page arrived (after the status line is updated). */
    loaded: (page: number) => void;
    /** A page request failed (after the status line says why). */
    failed?: (e: unknown) => void;
  }) {}

  /** Drops every page and loads the first. */
  reset(): Promise<void> {
    this.gen++;
    this.pages.clear();
    this.o.status.textContent = 'loading…';
    this.o.el.dataset.loading = '1';
    return this.load(0);
  }

  /** Row i when its page is loaded; otherwise asks for the page. */
  row(i: number): T | undefined {
    const p = Math.floor(i / PAGE);
    const page = this.pages.get(p);
    if (page === undefined) void this.load(p);
    return page && page !== 'loading' ? page[i - p * PAGE] : undefined;
  }

  /** No row matches (and the first page is not on its way). */
  empty(): boolean { return this.total === 0 && this.pages.get(0) !== 'loading'; }

  /** The rows of the contiguous loaded pages from the first (index = position). */
  loaded(): T[] {
    const out: T[] = [];
    for (let p = 0; ; p++) {
      const v = this.pages.get(p);
      if (!v || v === 'loading') break;
      out.push(...v);
    }
    return out;
  }

  /** The position of the first loaded row that `match` accepts, or -1. */
  find(match: (row: T) => boolean): number {
    for (const [p, v] of this.pages) {
      if (v === 'loading') continue;
      const k = v.findIndex(match);
      if (k >= 0) return p * PAGE + k;
    }
    return -1;
  }

  private async load(p: number): Promise<void> {
    if (this.pages.has(p)) return;
    const gen = this.gen;
    this.pages.set(p, 'loading');
    const { el, status, noun } = this.o;
    try {
      const r = await this.o.fetch(p * PAGE, PAGE);
      if (gen !== this.gen) return;
      this.pages.set(p, r.rows);
      this.total = r.total;
      status.textContent = `${r.total.toLocaleString()} ${noun}${r.total === 1 ? '' : 's'}`;
      status.classList.remove('error');
      delete el.dataset.loading;
      this.o.loaded(p);
    } catch (e) {
      if (gen !== this.gen) return;
      this.pages.delete(p);
      status.textContent = `error: ${(e as Error).message}`;
      status.classList.add('error');
      delete el.dataset.loading;
      this.o.failed?.(e);
    }
  }
}
