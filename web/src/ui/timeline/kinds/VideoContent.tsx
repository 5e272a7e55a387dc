import { MediaPlaceholder } from "./MediaPlaceholder";
import type { ContentProps } from "./types";

export function VideoContent({ content }: ContentProps<"video">) {
  return <MediaPlaceholder kind="video" icon="🎬" media={content.media} />;
}
