import { PAY_XML_LAYOUTS, type PayXmlLayout } from '../wechat/pay-xml';

/** SIMULATOR_XML_LAYOUT's values: one of pay-xml's layouts, `wechat` (WeChat's own: newline), or `vary`. */
export const SIMULATOR_XML_LAYOUTS = ['wechat', 'vary', ...PAY_XML_LAYOUTS] as const;
export type SimulatorXmlLayout = (typeof SIMULATOR_XML_LAYOUTS)[number];

/**
 * Picks each message's layout. `vary` takes the next layout in turn, so a suite meets all of them, and what a
 * test sees is reproducible from its order alone.
 */
export function layoutPicker(setting: SimulatorXmlLayout = 'wechat'): () => PayXmlLayout {
  if (setting === 'vary') {
    let next = 0;
    return () => PAY_XML_LAYOUTS[next++ % PAY_XML_LAYOUTS.length];
  }
  const fixed: PayXmlLayout = setting === 'wechat' ? 'newline' : setting;
  return () => fixed;
}
