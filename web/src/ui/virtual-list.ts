// A scrolling list of fixed-height rows that builds only the rows in view, so the
// vehicle list (10,000 rows) and the playback table stay cheap to update.

export class VirtualList<T> {
  private items: T[] = [];
  private readonly spacer: HTMLDivElement;
  private readonly rows: HTMLDivElement;
  private frame = 0;

  constructor(
    readonly viewport: HTMLElement,
    private readonly rowHeight: number,
    private readonly renderRow: (item: T, index: number) => HTMLElement,
  ) {
    viewport.classList.add("vlist");
    this.spacer = document.createElement("div");
    this.spacer.className = "vlist-spacer";
    this.rows = document.createElement("div");
    this.rows.className = "vlist-rows";
    viewport.append(this.spacer, this.rows);
    viewport.addEventListener("scroll", () => this.schedule());
    new ResizeObserver(() => this.schedule()).observe(viewport);
  }

  setItems(items: T[]): void {
    this.items = items;
    this.spacer.style.height = `${items.length * this.rowHeight}px`;
    this.render();
  }

  get length(): number {
    return this.items.length;
  }

  refresh(): void {
    this.render();
  }

  scrollToIndex(i: number): void {
    const top = i * this.rowHeight;
    const vp = this.viewport;
    if (top < vp.scrollTop || top + this.rowHeight > vp.scrollTop + vp.clientHeight) {
      vp.scrollTop = Math.max(0, top - vp.clientHeight / 2);
    }
    this.render();
  }

  private schedule(): void {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      this.render();
    });
  }

  private render(): void {
    const vp = this.viewport;
    const first = Math.max(0, Math.floor(vp.scrollTop / this.rowHeight) - 4);
    const last = Math.min(this.items.length, Math.ceil((vp.scrollTop + vp.clientHeight) / this.rowHeight) + 4);
    const frag = document.createDocumentFragment();
    for (let i = first; i < last; i++) {
      const row = this.renderRow(this.items[i], i);
      row.style.top = `${i * this.rowHeight}px`;
      row.style.height = `${this.rowHeight}px`;
      frag.append(row);
    }
    this.rows.replaceChildren(frag);
  }
}
