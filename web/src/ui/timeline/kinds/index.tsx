// One component per message kind: a new kind is a new file plus one line here.
// System messages are rows of their own (SystemMessage), not bubble content.
import type { ComponentType } from "preact";
import type { MessageContent } from "../../../generated/protocol";
import { FileContent } from "./FileContent";
import { ImageContent } from "./ImageContent";
import { TextContent } from "./TextContent";
import type { ContentKind, ContentProps } from "./types";
import { UnsupportedContent } from "./UnsupportedContent";
import { VideoContent } from "./VideoContent";
import { VoiceContent } from "./VoiceContent";

export { SystemMessage } from "./SystemMessage";

const KINDS: { [K in ContentKind]?: ComponentType<ContentProps<K>> } = {
  text: TextContent,
  image: ImageContent,
  voice: VoiceContent,
  video: VideoContent,
  file: FileContent,
};

/** The body of a bubble, by the kind of its content. */
export function MessageContentView({ content }: { content: MessageContent }) {
  const C = KINDS[content.kind] as ComponentType<{ content: MessageContent }> | undefined;
  return C ? <C content={content} /> : <UnsupportedContent content={content} />;
}
