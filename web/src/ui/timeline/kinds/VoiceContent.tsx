import { MediaPlaceholder } from "./MediaPlaceholder";
import type { ContentProps } from "./types";

export function VoiceContent({ content }: ContentProps<"voice">) {
  return <MediaPlaceholder kind="voice" icon="🎤" media={content.media} />;
}
