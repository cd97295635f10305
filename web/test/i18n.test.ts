import { describe, expect, it } from "vitest";
import { DICTS, flagName, getLang, setLang, t } from "../src/i18n";

describe("i18n", () => {
  it("defaults to Chinese", () => {
    expect(getLang()).toBe("zh");
    expect(t("state.moving")).toBe("行驶");
  });

  it("has every key in both languages, none empty", () => {
    const zh = Object.keys(DICTS.zh).sort();
    expect(Object.keys(DICTS.en).sort()).toEqual(zh);
    for (const lang of ["zh", "en"] as const) {
      for (const [k, v] of Object.entries(DICTS[lang])) expect(v.trim(), `${lang} ${k}`).not.toBe("");
    }
  });

  it("keeps the same placeholders in both languages", () => {
    const names = (s: string) => (s.match(/\{\w+\}/g) ?? []).sort();
    for (const k of Object.keys(DICTS.zh) as (keyof typeof DICTS.zh)[]) {
      expect(names(DICTS.en[k]), k).toEqual(names(DICTS.zh[k]));
    }
  });

  it("switches language and fills placeholders", () => {
    setLang("en");
    expect(t("list.showing", { shown: 3, total: 10 })).toBe("Showing 3 of 10");
    expect(flagName("alarm", "overspeed")).toBe("Overspeed");
    expect(flagName("alarm", "not_a_flag")).toBe("not_a_flag");
    setLang("zh");
    expect(t("list.showing", { shown: 3, total: 10 })).toBe("显示 3 / 10 辆");
    expect(flagName("status", "acc_on")).toBe("ACC 开");
  });
});
