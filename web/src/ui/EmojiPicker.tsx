import { useEffect, useRef, useState } from "preact/hooks";
import { lang, t } from "../i18n";
import { EMOJI_GROUPS, emojiList } from "./emoji";

/** A popover grid of emoji buttons. Arrow keys move, Enter picks, Escape closes. */
export function EmojiPicker(props: { onPick(e: string): void; onClose(): void }) {
  const [group, setGroup] = useState(EMOJI_GROUPS[0]!.id);
  const grid = useRef<HTMLDivElement>(null);
  useEffect(() => {
    (grid.current?.querySelector("button") as HTMLButtonElement | null)?.focus();
  }, [group]);
  const list = emojiList(group);
  const onKey = (e: KeyboardEvent) => {
    if (e.key === "Escape") { e.preventDefault(); props.onClose(); return; }
    const buttons = [...(grid.current?.querySelectorAll("button") ?? [])] as HTMLButtonElement[];
    const i = buttons.indexOf(document.activeElement as HTMLButtonElement);
    if (i < 0) return;
    const cols = 8;
    const delta = { ArrowRight: 1, ArrowLeft: -1, ArrowDown: cols, ArrowUp: -cols }[e.key];
    if (delta) {
      e.preventDefault();
      buttons[Math.max(0, Math.min(buttons.length - 1, i + delta))]?.focus();
    }
  };
  return (
    <div class="emoji-picker" role="dialog" aria-label={t("emoji")} onKeyDown={onKey}>
      <div class="emoji-tabs" role="tablist">
        {EMOJI_GROUPS.map((g) => (
          <button key={g.id} type="button" role="tab" aria-selected={g.id === group} class={g.id === group ? "active" : ""}
            title={lang.value === "zh-CN" ? g.label.zh : g.label.en} onClick={() => setGroup(g.id)}>
            {emojiList(g.id)[0]}
          </button>
        ))}
      </div>
      <div class="emoji-grid" ref={grid} role="grid">
        {list.map((e) => (
          <button key={e} type="button" class="emoji" aria-label={e} onClick={() => props.onPick(e)}>{e}</button>
        ))}
      </div>
    </div>
  );
}
