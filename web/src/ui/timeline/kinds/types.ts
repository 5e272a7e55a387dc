import type { MessageContent } from "../../../generated/protocol";

export type ContentKind = MessageContent["kind"];
/** What a content component gets: the content narrowed to its kind. */
export interface ContentProps<K extends ContentKind> { content: Extract<MessageContent, { kind: K }> }
